"""Rendering: an executed notebook into the files a reader gets.

- ``formats``: the registry of output formats (``report.html``, ``email.html`` +
  ``email.txt``, ``report.docx``, ``report.pdf``, ``pipeline.csv``/``.xlsx``) and the
  nbconvert exporters behind the HTML ones.
- ``templates/``: nbconvert template directories (``conf.json`` + ``index.html.j2``
  extending ``broadsheet_base``); code is hidden by configuration, not forked templates.
- ``plaintext``: the one HTML-to-text renderer (email alternatives, alerts).
- ``docx/``: the Word board pack (document, styles, tables); ``pdf``: its PDF, by
  LibreOffice headless.
- ``lists``: the pipeline lists to work from (CSV and XLSX).

Modules are imported by name (``from runner.render import formats``): nbconvert costs a
second to import, and delivery needs only ``plaintext``.
"""
