/**
 * The image is distroless (no shell, no `token-broker` on PATH): a person reaches the CLI through
 * `kubectl exec` into the sidecar container, running node on the image's entrypoint script
 * (Dockerfile ENTRYPOINT). The container name is the one injection gives the sidecar.
 */
import { SIDECAR_CONTAINER_NAME } from '../webhook/src/injection/names.ts';

/** The Dockerfile's ENTRYPOINT, word for word. */
export const IMAGE_ENTRYPOINT = ['/nodejs/bin/node', '/app/dist/cli/main.js'] as const;

/** `kubectl exec -n <namespace> <pod> -c token-broker -- /nodejs/bin/node /app/dist/cli/main.js <command>` */
export function kubectlExecLine(command: string): string {
  return `kubectl exec -n <namespace> <pod> -c ${SIDECAR_CONTAINER_NAME} -- ${IMAGE_ENTRYPOINT.join(' ')} ${command}`;
}
