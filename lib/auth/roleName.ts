// What a caller's PostgreSQL role may be called (CALLERS "role", JWT_ROLE_CLAIM): a plain identifier, checked before
// it reaches `set_config('role', …)`; `none` would drop the role instead of taking one.
export const ROLE_NAME = /^(?!none$)[a-z_][a-z0-9_$]{0,62}$/i;
export const ROLE_NAME_RULE = 'a PostgreSQL role name (a letter or _, then letters, digits, _ and $; at most 63; not none)';
