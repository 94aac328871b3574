"""GitHub: fetch an issue, push the agent's branch, open or update its pull request."""
