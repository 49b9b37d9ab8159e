"""Allow ``python -m outreach_routes``."""

from .cli import main

main()
