// What a bearer token may contain (RFC 6750 token68): checked at start for configured tokens and on every request.
export const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
export const TOKEN68_RULE = 'letters, digits and - . _ ~ + / only (then = padding), as a bearer token must be';
