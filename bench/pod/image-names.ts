/**
 * The names of the images podbench builds itself, for help texts and defaults. Kept apart from
 * agent-image.ts (which runs podman) so that the CLI's flag definitions load nothing heavy.
 */
import { PODBENCH_VERSION } from '../cli/version.js';

/** How the default agent image's tag is spelled, for help texts. */
export const DEFAULT_LOCAL_IMAGE_PATTERN = `localhost/podbench-agent:${PODBENCH_VERSION}-<build hash>`;

/** A plain Node image (no agent) built the same way: a stand-in for node:24-slim where no registry is reachable. */
export const LOCAL_NODE_IMAGE = `localhost/podbench-node:${process.versions.node}`;

/** The default name of an image built `--with-cli`: the agent and podbench, for the in-cluster Job. */
export const LOCAL_CLI_IMAGE = `localhost/podbench:${PODBENCH_VERSION}`;
