"""Thin rasa-sdk actions, one module per feature, calling the kb/ and handoff/ libraries."""
