"""OCPI 2.2.1 (spec tag ``v2.2.1-d2``): enums, wire models, server controllers and client."""
