/** A Python codec failed (unknown name, bytes it cannot decode or characters it cannot encode). */
export class CharsetError extends Error {}
