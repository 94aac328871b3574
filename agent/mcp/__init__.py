"""Model Context Protocol: servers' tools in our loop (client), and our tools for others (`serve`)."""
