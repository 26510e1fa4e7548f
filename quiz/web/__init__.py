"""Blueprints, one per audience: citizen pages, the v1 JSON API, the organizers' console, displays."""
