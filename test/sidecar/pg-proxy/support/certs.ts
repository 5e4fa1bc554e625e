/** The stand-in's certificates (kept beside the emulators, which may not import from here). */
export { makeServerCertificate, type ServerCertificate } from '../../../emulators/pg-certificates.ts';
