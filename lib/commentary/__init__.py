"""Commentary for report sections: Claude when it can, a useful automatic summary when not.

:func:`write` takes a report's sections (each a handful of :class:`Fact` plus context
notes) and returns the ``commentary`` object of ``figures.json``. For every section it
builds one prompt from that section's facts only, answers it from the disk cache or the
Messages API, checks every number in the reply against the facts, and uses
:func:`fallback` for the section whenever any of that fails. A report is never blocked
and never shows a number the model invented.

Rules this module applies (the contract the notebooks and the runner rely on):

Retry policy
    The SDK's own retries are switched off (``max_retries=0``): they also retry timeouts,
    408/409 and every 5xx, and would sleep out any ``retry-after`` whatever the report's
    deadline. Instead a 429 (rate limit) or 529 (overloaded) is retried up to
    ``Settings.max_retries`` times (3: at most four requests per section). The wait is the
    server's ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date) when sent,
    else ``backoff_seconds * 2**n`` (capped at ``max_backoff_seconds``, jittered down by up
    to a quarter). A wait that would end past the deadline is not taken: the section falls
    back at once. Every other error, a timeout or a connection failure falls back without
    retrying. Each request's timeout is the time left before the deadline, and
    :func:`write` stops waiting at the deadline (plus a second's grace), so the whole
    report takes at most ``deadline_seconds``.
Fact check
    See :func:`fact_check`: every number in the reply must be one of the figures given,
    their change, or a number in the section's labels, title or notes, at the precision
    written (the model may round); dates, years and numbers up to ten written as words
    are ignored.
Fallback marking
    Automatic text always ends with :data:`AUTOMATIC_MARK` (``(Automatic summary.)``), and
    ``commentary.sources[name]`` says ``fallback``; the reason is in ``commentary.log``
    and logged as a warning.
Cache and concurrency
    Replies are cached as JSON under ``cache_dir`` keyed by sha256 of model, system prompt
    and prompt, so a rerun on the same data makes no request. At most ``concurrency``
    requests are in flight across every process sharing ``cache_dir`` (lock files under
    ``cache_dir/slots``); without a ``cache_dir`` there is no cache and the limit is per
    call.

The work is split by job: :mod:`lib.commentary.facts` (the inputs),
:mod:`lib.commentary.settings`, :mod:`lib.commentary.prompts`,
:mod:`lib.commentary.client` (requests, retries, cache and slots), :mod:`lib.commentary.check`
and :mod:`lib.commentary.fallback`. Import commentary from here: this module is the
public API and re-exports their public names.
"""

from lib.commentary.check import fact_check
from lib.commentary.client import RETRY_STATUSES
from lib.commentary.compose import write
from lib.commentary.facts import Fact, Section, facts_from_figures
from lib.commentary.fallback import AUTOMATIC_MARK, fallback
from lib.commentary.prompts import AUDIENCES, system_prompt, user_prompt
from lib.commentary.settings import DEFAULT_MODEL, Settings

__all__ = [
    "AUDIENCES",
    "AUTOMATIC_MARK",
    "DEFAULT_MODEL",
    "Fact",
    "RETRY_STATUSES",
    "Section",
    "Settings",
    "fact_check",
    "facts_from_figures",
    "fallback",
    "system_prompt",
    "user_prompt",
    "write",
]
