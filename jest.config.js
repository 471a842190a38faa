// Tests run TypeScript through swc (ts-jest cannot use TypeScript 7) against a real PostgreSQL.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/lib', '<rootDir>/src', '<rootDir>/modules', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // jose and oidc-provider ship only ES modules: swc turns them into CommonJS for jest too (Node 20 has no require(esm)
  // in jest).
  transform: { '^.+\\.ts$': ['@swc/jest'], '/node_modules/(jose|oidc-provider)/.+\\.js$': ['@swc/jest'] },
  transformIgnorePatterns: ['/node_modules/(?!(jose|oidc-provider)/)'],
  globalSetup: '<rootDir>/test/support/globalSetup.ts',
  globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
  testTimeout: 30000,
};
