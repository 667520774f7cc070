-- arcsim store, version 11 (issue 13): the newest DeviceFileCertificateInfo rows are read at start-up
-- to rebuild the detection engine's file profiles (control-plane/detection/file-profile.ts), so a
-- restarted control plane still knows the signer of a file whose certificate row came before.
CREATE INDEX events_file_certificates ON events(ts) WHERE tbl = 'DeviceFileCertificateInfo';
