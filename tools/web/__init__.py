"""The web_fetch tool's machinery: its settings, the address guard, HTML to text."""
