"""The Word board pack: ``document`` builds it (the output format ``Docx``), ``styles``
holds the named styles, page set-up and furniture, ``tables`` the native tables and pictures.
"""

from runner.render.docx.document import Docx, build

__all__ = ["Docx", "build"]
