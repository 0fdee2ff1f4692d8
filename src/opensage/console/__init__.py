"""The web console: pages, templates and vendored assets, served by the platform at /."""
