"""The steps of a question's path, one module each (see :mod:`assistant.pipeline`)."""
