// A small strict JSON parser for safetensors headers.
//
// Why not JSON.parse: it silently keeps the last of duplicate keys and builds ordinary objects
// (where a '__proto__' key is an own property that later copying code can turn into prototype
// pollution). This parser
//  - builds objects as Map<string, JsonValue> (no prototypes involved at all, order kept),
//  - rejects duplicate keys at any depth,
//  - rejects the key '__proto__' at any depth,
//  - keeps integers apart from numbers written with a fraction or exponent (JsonNonInteger),
//    so `2.0` or `2e0` is not silently accepted where the format wants an integer,
//  - rejects lone surrogate \u escapes (such names cannot be written as UTF-8),
//  - limits nesting depth so hostile input cannot overflow the stack.
// Grammar is RFC 8259; whitespace (the spec pads headers with spaces) may surround the value.

export type JsonValue =
  | null
  | boolean
  | string
  | number
  | JsonNonInteger
  | JsonValue[]
  | Map<string, JsonValue>;

/** A number written with a fraction or an exponent ("1.0", "1e3"): never a valid size/offset. */
export class JsonNonInteger {
  constructor(
    readonly value: number,
    readonly text: string,
  ) {}
}

export class JsonSyntaxError extends Error {
  /** Keys leading to the place of the error (e.g. ['weight', 'shape']). */
  readonly path: readonly string[];
  constructor(message: string, path: readonly string[]) {
    super(message);
    this.path = path;
  }
}

export const MAX_JSON_DEPTH = 64;

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

export function parseStrictJson(src: string): JsonValue {
  let pos = 0;
  const path: string[] = [];

  const fail = (what: string, at = pos): never => {
    throw new JsonSyntaxError(`${what} at character ${at}`, [...path]);
  };

  const skipWs = (): void => {
    for (;;) {
      const c = src.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };

  const describe = (at: number): string =>
    at >= src.length ? 'end of input' : `character ${JSON.stringify(src[at])}`;

  const parseString = (): string => {
    // Precondition: src[pos] === '"'
    pos++;
    let out = '';
    let start = pos;
    for (;;) {
      if (pos >= src.length) fail('unterminated string');
      const c = src.charCodeAt(pos);
      if (c === 0x22) {
        out += src.slice(start, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail('unescaped control character in string');
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += src.slice(start, pos);
      const e = src[pos + 1];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const unit = readHex4(pos + 2);
          if (unit >= 0xd800 && unit <= 0xdbff) {
            // High surrogate: must be followed by an escaped low surrogate.
            if (src[pos + 6] !== '\\' || src[pos + 7] !== 'u') fail('lone surrogate in \\u escape');
            const low = readHex4(pos + 8);
            if (low < 0xdc00 || low > 0xdfff) fail('lone surrogate in \\u escape');
            out += String.fromCharCode(unit, low);
            pos += 6;
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            fail('lone surrogate in \\u escape');
          } else {
            out += String.fromCharCode(unit);
          }
          pos += 4;
          break;
        }
        default:
          fail('invalid escape in string');
      }
      pos += 2;
      start = pos;
    }
  };

  const readHex4 = (at: number): number => {
    const hex = src.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape', at);
    return parseInt(hex, 16);
  };

  const parseValue = (depth: number): JsonValue => {
    skipWs();
    const c = src[pos];
    if (c === '{') return parseObject(depth + 1);
    if (c === '[') return parseArray(depth + 1);
    if (c === '"') return parseString();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER_RE.lastIndex = pos;
      const m = NUMBER_RE.exec(src);
      if (!m) return fail('invalid number');
      pos += m[0].length;
      const value = Number(m[0]);
      return m[1] === undefined && m[2] === undefined ? value : new JsonNonInteger(value, m[0]);
    }
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (src.startsWith(word, pos)) {
        pos += word.length;
        return value;
      }
    }
    return fail(`unexpected ${describe(pos)}`);
  };

  const checkDepth = (depth: number): void => {
    if (depth > MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
  };

  const parseObject = (depth: number): Map<string, JsonValue> => {
    checkDepth(depth);
    pos++; // '{'
    const obj = new Map<string, JsonValue>();
    skipWs();
    if (src[pos] === '}') {
      pos++;
      return obj;
    }
    for (;;) {
      skipWs();
      if (src[pos] !== '"') fail(`expected a string key but found ${describe(pos)}`);
      const keyAt = pos;
      const key = parseString();
      path.push(key);
      if (key === '__proto__') fail(`forbidden key "__proto__"`, keyAt);
      if (obj.has(key)) fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
      skipWs();
      if (src[pos] !== ':') fail(`expected ':' but found ${describe(pos)}`);
      pos++;
      obj.set(key, parseValue(depth));
      path.pop();
      skipWs();
      if (src[pos] === ',') {
        pos++;
        continue;
      }
      if (src[pos] === '}') {
        pos++;
        return obj;
      }
      fail(`expected ',' or '}' but found ${describe(pos)}`);
    }
  };

  const parseArray = (depth: number): JsonValue[] => {
    checkDepth(depth);
    pos++; // '['
    const arr: JsonValue[] = [];
    skipWs();
    if (src[pos] === ']') {
      pos++;
      return arr;
    }
    for (;;) {
      arr.push(parseValue(depth));
      skipWs();
      if (src[pos] === ',') {
        pos++;
        continue;
      }
      if (src[pos] === ']') {
        pos++;
        return arr;
      }
      fail(`expected ',' or ']' but found ${describe(pos)}`);
    }
  };

  const value = parseValue(0);
  skipWs();
  if (pos !== src.length) fail(`unexpected ${describe(pos)} after the JSON value`);
  return value;
}
