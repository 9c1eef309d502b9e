"""Mail I/O: connections, OAuth2, provider presets, intake, the Drafts folder, sending."""
