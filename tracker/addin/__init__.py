"""The Excel add-in: a source-only VBA project (ovba), the .xlam builder and its installer."""
