"""What the run, the tools and the context stand on in a repository: host-side git, worktree hygiene."""
