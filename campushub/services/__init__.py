"""Hub-managed services of campushub, each a small tornado app authenticated with HubOAuth."""
