import { type CacheBackend, ProxyBackend } from '@dogpile/core';

/**
 * The base of every proxy here: a {@link ProxyBackend} that shows the wrapped backend's
 * `serializer` and `keyMangler` as its own, so code that looks at the outermost backend (the
 * conformance kit, a user's tooling) sees what the region uses: the region takes both from the
 * innermost backend.
 */
export abstract class PassThroughProxy extends ProxyBackend {
  override wrap(backend: CacheBackend): this {
    super.wrap(backend);
    this.serializer = backend.serializer;
    this.keyMangler = backend.keyMangler;
    return this;
  }
}
