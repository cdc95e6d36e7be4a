export declare function bundle(name: string): Promise<void>;
