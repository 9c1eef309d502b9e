"""The application: the service factory, the actions every front end shares, jobs and watchers."""
