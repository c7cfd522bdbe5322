// Types of build.mjs, for the TypeScript that imports it (the e2e test, `serve`).
export declare const WEB_SOURCES: string;
export declare const DEFAULT_WEB_OUT: string;
export declare function buildWeb(o?: { outdir?: string; minify?: boolean }): Promise<string[]>;
