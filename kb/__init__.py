"""The knowledge base: entries (答复口径), their index, retrieval and the knowledge-gap loop."""
