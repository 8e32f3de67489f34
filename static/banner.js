/* cookieguard banner: placeholder until the banner issue lands. */
