// The errors the crypto functions raise, named as phr.crypto.errors names them.

function kind(name, parent = Error) {
  const cls = class extends parent {
    constructor(message) {
      super(message);
      this.name = name;
    }
  };
  Object.defineProperty(cls, "name", { value: name });
  return cls;
}

export { FormatError } from "./bytes.js";
export const IntegrityError = kind("IntegrityError");
export const KeystoreError = kind("KeystoreError");
export const WrongPassphrase = kind("WrongPassphrase", KeystoreError);
export const SignatureInvalid = kind("SignatureInvalid");
export const ParamsInvalid = kind("ParamsInvalid");
export const UnsealError = kind("UnsealError");
export const CapsuleOpenError = kind("CapsuleOpenError");
export const KeyFragInvalid = kind("KeyFragInvalid");
export const CapsuleFragInvalid = kind("CapsuleFragInvalid");
export const NotEnoughFragments = kind("NotEnoughFragments");
export const ManifestInvalid = kind("ManifestInvalid");
export const BundleInvalid = kind("BundleInvalid");
export const ProofInvalid = kind("ProofInvalid");
