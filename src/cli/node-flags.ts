// Node flags the broker runs with; kept in step with the shebang of src/cli/index.ts.
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
