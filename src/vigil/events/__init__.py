"""Platform events: OpenStack notifications in, StackTach's stacky views out."""
