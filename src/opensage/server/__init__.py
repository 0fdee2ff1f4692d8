"""The HTTP server: app factory and process entry point."""
