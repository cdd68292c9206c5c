"""Operating PromptGrid: metrics, structured logs and request ids.

``metrics`` holds the Prometheus metrics and their exposition, ``logs`` the JSON
formatter and the redaction filter, ``request_id`` the middleware and the context
variable that tie a log line to the request that caused it.
"""
