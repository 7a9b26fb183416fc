"""A handler module that fails while it is imported (an init error on Lambda)."""
raise RuntimeError('missing configuration: TABLE_NAME')
