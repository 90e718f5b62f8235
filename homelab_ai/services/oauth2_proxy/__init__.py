"""oauth2-proxy: an OpenID Connect sign-in in front of an app that has none of its own."""
