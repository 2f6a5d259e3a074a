"""JSON schemas of the Talentsoft streams (loaded with SchemaDirectory)."""
