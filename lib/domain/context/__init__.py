"""business_context v2.0: the document finalize makes from the 23 steps, and the reducer's input."""

from lib.domain.context.builder import build_business_context
from lib.domain.context.models import BUSINESS_CONTEXT_VERSION, BusinessContext
from lib.domain.context.schema import SCHEMA_PATH, business_context_json_schema
from lib.domain.context.validation import parse_business_context, validate_business_context

__all__ = [
    "BUSINESS_CONTEXT_VERSION",
    "SCHEMA_PATH",
    "BusinessContext",
    "build_business_context",
    "business_context_json_schema",
    "parse_business_context",
    "validate_business_context",
]
