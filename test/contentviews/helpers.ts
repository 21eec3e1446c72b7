import { readFileSync } from 'node:fs';

export const FIXTURES = new URL('../fixtures/contentviews/', import.meta.url);

export function fixture(name: string): Buffer {
  return readFileSync(new URL(name, FIXTURES));
}

export function fixtureJson<T>(name: string): T {
  return JSON.parse(fixture(name).toString('utf8')) as T;
}
