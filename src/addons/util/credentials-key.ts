/** A map key for a username and password pair: length-prefixed, so no two different pairs give the same key. */
export function credentialsKey(username: string, password: string): string {
  return `${username.length}:${username}${password}`;
}
