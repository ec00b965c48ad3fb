// Small shared reads: schemas (cached for the session: a version never changes once in use),
// and an image's pixels through its short-lived presigned link.

import { schemaModel } from "./keypoints/model.js";
import { loadImage } from "./keypoints/canvas.js";

const schemas = new Map();

export function getSchema(api, id) {
  if (!schemas.has(id)) {
    const pending = api.get(`/schemas/${id}`).then(schemaModel);
    pending.catch(() => schemas.delete(id));
    schemas.set(id, pending);
  }
  return schemas.get(id);
}

export function forgetSchema(id) {
  schemas.delete(id);
}

/** GET /images/{id} and the decoded picture: {info, image}. */
export async function getPicture(api, imageId) {
  const info = await api.get(`/images/${imageId}`);
  const image = await loadImage(info.image_url);
  return { info, image };
}
