// oidc-provider ships no types (its @types package lags its majors); the tests use it only through its documented options.
declare module 'oidc-provider';
