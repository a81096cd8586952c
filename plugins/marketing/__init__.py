"""B2C repeat-purchase marketing: campaigns, segments, purchases and renewals."""
