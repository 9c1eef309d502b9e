"""Where mail comes in: IMAP inbox sync and SMTP ingress. Both only store, then enqueue."""
