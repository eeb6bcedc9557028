"""The gateway's HTTP views, one module per resource; routes are declared in handoff/app.py."""
