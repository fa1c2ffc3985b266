"""Log drains: every line of an app (or a site's apps) delivered continually to a third party, the way
Heroku's Logplex and Loggregator's syslog agent do it. API notes and every choice: docs/drains.md."""
