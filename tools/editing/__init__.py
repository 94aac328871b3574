"""The machinery of the edit tools: matching old text, applying changes, syntax and lint checks."""
