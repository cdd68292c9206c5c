"""OpenAI's Responses API (``POST /api/v1/responses``), stateless, as one more surface of the
chat pipeline: ``request`` translates in, ``answer`` and ``stream`` translate out."""
