"""The edges: the Flask app factory, blueprints, schemas and the ``collector`` CLI."""
