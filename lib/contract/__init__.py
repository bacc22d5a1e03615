"""The HTTP contract: the pydantic models every function's routes answer with and accept.

One module per function family (``payments``, ``billing``, ``onboarding``, ``bcm``,
``maintenance``); ``common`` holds the shared pieces and ``problems`` every problem
code with its status.  Handlers return these models (the router serialises them),
routes declare them (``Router.route(responses=, body=, problems=)``) and
``tools/openapi.py`` publishes their JSON Schemas, so the document is written once.
Only the HTTP layer and the functions import this package; the domain and the
services never do.
"""
