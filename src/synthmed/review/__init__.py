"""Expert reader study in the browser: visual Turing test and grading, with statistics.

``study`` prepares a study (SQLite), ``app`` serves it (FastAPI), ``results`` and ``stats``
summarise the answers.
"""
