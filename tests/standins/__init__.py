"""Local HTTP stand-ins of the third-party services Broadsheet talks to.

Each stand-in speaks just enough of the real wire protocol for the real client library to
be used unchanged in tests, and records what it was sent.
"""
